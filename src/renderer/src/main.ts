import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { connectDefaultClient, setClient } from './api.ts'
import './styles.css'

setClient(connectDefaultClient())
createApp(App).use(createPinia()).mount('#app')
