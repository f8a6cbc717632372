/** The environment variable through which the main process tells the engine process the app's folder. */
export const appPathVariable = 'TILLER_APP_PATH'
